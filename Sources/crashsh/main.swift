print("crashsh")
