"""The article's second program: threading. Compare with `cargo run --example threads`.

One change: each line is printed with one write (`end=""`, the newline inside the string).
The article's `print(line)` writes the line and its newline separately, and two threads may
interleave them ("Square: 100Cube: 1000" then two newlines), which is the GIL switching
threads between the two writes: a fine lesson, but not one to compare outputs by."""
import threading


def print_cube(num):
    """
    function to print cube of given num
    """
    print("Cube: {}\n".format(num * num * num), end="")


def print_square(num):
    """
    function to print square of given num
    """
    print("Square: {}\n".format(num * num), end="")


if __name__ == "__main__":
    # creating thread
    t1 = threading.Thread(target=print_square, args=(10,))
    t2 = threading.Thread(target=print_cube, args=(10,))

    # starting thread 1
    t1.start()
    # starting thread 2
    t2.start()

    # wait until thread 1 is completely executed
    t1.join()
    # wait until thread 2 is completely executed
    t2.join()

    # both threads completely executed
    print("Done!")
