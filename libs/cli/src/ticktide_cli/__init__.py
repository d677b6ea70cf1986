"""The `ticktide` command line: status, migrations, backfills and archive imports,
run on the host of the stack, talking to its PostgreSQL and RabbitMQ directly."""
