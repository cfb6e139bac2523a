from migration_guard.cli import main

main()
