"""One module per `callbench` subcommand group. Each exposes ``register(subparsers)``, which adds
its parsers and sets ``handler`` (a callable taking the parsed namespace and returning an exit
code) as a default on each."""
