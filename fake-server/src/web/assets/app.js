// The web sink's UI.
