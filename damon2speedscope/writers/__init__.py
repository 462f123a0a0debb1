"""Writers: model + analysis → speedscope JSON and the summary."""
