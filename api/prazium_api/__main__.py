from prazium_api.main import main

main()
