"""What the tests share: peers, servers, connections and data; one module each."""
