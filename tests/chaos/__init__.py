"""The chaos suite: Team Talk run as processes, real clients, faults, then an audit."""
