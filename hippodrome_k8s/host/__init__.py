"""This machine, as the engines and the CLI meet it: the project's files (where they are, one atomic
write, the recorded seed), who holds a port, the git branch. I/O, but no engine logic."""
