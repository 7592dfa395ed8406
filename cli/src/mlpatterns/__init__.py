"""mlpatterns: the developer CLI of the ML design patterns kit."""
