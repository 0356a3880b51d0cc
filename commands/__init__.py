"""The command line, `partner-churn <command>`: the top layer, which may import every other."""
