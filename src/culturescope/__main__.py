from culturescope.cli import main

main()
