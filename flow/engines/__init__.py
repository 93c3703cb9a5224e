"""In-process engines (STA, power, activity, parasitics, ...) working on array netlists in SI units."""
