from wschats.cli import main

main()
