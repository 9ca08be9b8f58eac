from prazium_operator.main import main

main()
