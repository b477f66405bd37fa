"""Infrastructure as code for the aws profile (see docs/deploy.md)."""
