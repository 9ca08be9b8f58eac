"""A project's repository: read with the git CLI (repo), served to `git clone` and
`git fetch` by git's own http-backend (http_backend) with the API key as the
password (credentials)."""
