"""Service kits for the tests: the real services this machine runs (RabbitMQ, PostgreSQL,
sshd) as fixtures, the WinRM peer that stands in for a Windows host, and the helpers every
test shares (waiting for a condition, the test secret, free ports)."""
