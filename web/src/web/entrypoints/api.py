"""`python -m web.entrypoints.api`: what the launcher starts, like every service's API."""

from web.app import main

if __name__ == "__main__":
    main()
