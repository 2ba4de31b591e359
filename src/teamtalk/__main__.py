from teamtalk.cli import main

main()
