"""What users watch: the dashboards' panels and the alert rules (one table each, in PromQL over the
metric names of DESIGN.md), generated into manifests/monitoring and the charts by `charts sync`."""
