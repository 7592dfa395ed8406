"""`mlpatterns-server aggregate`: the aggregator step of an InferenceGraph Ensemble. KServe's router
answers an Ensemble with one JSON object, each step's answer under its step name; this server
combines those answers into one v1 answer (majority vote, mean, weighted mean, or all of them side
by side), leaving out the steps that failed (Soft dependencies) and saying which."""
