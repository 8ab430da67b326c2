-- An allowed, authenticated normal GET (bench/scenarios.py: get()).
-- Authorization is base64("bench-user:bench-token"), the bench user's credential.
wrk.method = "GET"
wrk.headers["Host"] = "api.acme.test"
wrk.headers["Origin"] = "https://app.example.com"
wrk.headers["Authorization"] = "Basic YmVuY2gtdXNlcjpiZW5jaC10b2tlbg=="
