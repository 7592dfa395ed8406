"""The training steps as plain functions: the KFP components wrap them, the one-container batch
job runs them in a row, and the tests call them directly."""
