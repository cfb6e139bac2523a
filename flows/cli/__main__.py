from migration_guard.flows.cli import main

main()
