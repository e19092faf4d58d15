from kefu.cli.main import main

main()
