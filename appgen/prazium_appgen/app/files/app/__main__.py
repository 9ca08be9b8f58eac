"""``python -m app`` serves the API (settings: see app/server.py and README.md)."""

from app.server import main

if __name__ == "__main__":
    main()
