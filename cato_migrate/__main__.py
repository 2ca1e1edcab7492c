from cato_migrate.cli.app import entry

entry()
