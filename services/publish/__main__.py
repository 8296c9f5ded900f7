from services.publish.main import main

main()
