from services.review.main import main

main()
