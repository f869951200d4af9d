from smartfactory.cli import main

main()
