"""What the tests share: fixtures shaped like the real data, servers, the browser, oracles."""
