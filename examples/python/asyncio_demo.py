"""The article's fourth program: three subreddits fetched at once with asyncio and aiohttp.
Compare with `cargo run --example reddit_top`.

    python asyncio_demo.py BASE_URL     e.g. the URL `reddit_top --serve` prints

Three changes from the article, so that it runs against our local server and ends:
- the base URL is an argument (the article fetches https://www.reddit.com);
- the session is made inside the running loop, and closed when the fetches are done, as the
  aiohttp of today wants (the article's `ClientSession(loop=loop)` at import time warns now);
- the loop runs until the three fetches are done, not for ever. Ctrl-C still stops it early,
  closing the session on the way out, as the article's `signal_handler` does.
Needs aiohttp (`scripts/test.sh` installs the pinned version into target/rq-venv).
"""

import asyncio
import json
import sys

import aiohttp


async def get_json(client, url):
    async with client.get(url) as response:
        assert response.status == 200
        return await response.read()


async def get_reddit_top(base, subreddit, client):
    data1 = await get_json(client, base + '/r/' + subreddit + '/top.json?sort=top&t=day&limit=5')

    j = json.loads(data1.decode('utf-8'))
    for i in j['data']['children']:
        score = i['data']['score']
        title = i['data']['title']
        link = i['data']['url']
        print(str(score) + ': ' + title + ' (' + link + ')')

    print('DONE:', subreddit + '\n')


async def main(base):
    async with aiohttp.ClientSession() as client:
        await asyncio.gather(
            asyncio.ensure_future(get_reddit_top(base, 'python', client)),
            asyncio.ensure_future(get_reddit_top(base, 'programming', client)),
            asyncio.ensure_future(get_reddit_top(base, 'compsci', client)),
        )


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: asyncio_demo.py BASE_URL')
    try:
        asyncio.run(main(sys.argv[1].rstrip('/')))
    except KeyboardInterrupt:
        sys.exit(0)
