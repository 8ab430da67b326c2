-- An allowed normal GET without credentials (bench/scenarios.py: get(authorization=None)):
-- what the authentication = "none" server, wsgicors and the minimal middleware are sent.
wrk.method = "GET"
wrk.headers["Host"] = "api.acme.test"
wrk.headers["Origin"] = "https://app.example.com"
