-- An allowed preflight for the bench rule (bench/scenarios.py: preflight()).
wrk.method = "OPTIONS"
wrk.headers["Host"] = "api.acme.test"
wrk.headers["Origin"] = "https://app.example.com"
wrk.headers["Access-Control-Request-Method"] = "PUT"
wrk.headers["Access-Control-Request-Headers"] = "x-custom-header"
