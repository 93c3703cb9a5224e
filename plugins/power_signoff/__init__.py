"""Built-in plugin: power sign-off report sections, per-supply / per-island metrics, IR-drop estimate."""
