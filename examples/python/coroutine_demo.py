"""The article's third program: a generator used as a coroutine. Compare with
`cargo run --example coroutine`."""


def print_name(prefix):
    print("Searching prefix:{}".format(prefix))
    try:
        while True:
            # yield used to create coroutine
            name = (yield)
            if prefix in name:
                print(name)
    except GeneratorExit:
        print("Closing coroutine!!")


corou = print_name("Dear")
corou.__next__()
corou.send("James")
corou.send("Dear James")
corou.close()
