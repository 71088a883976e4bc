"""The program's building blocks: settings, tenant reads, clients, credentials and grants."""
