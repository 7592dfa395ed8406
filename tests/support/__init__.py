"""Helpers the tests share: free ports, real processes on loopback, and the services they need."""
