from dmarcflow.cli import main

main()
