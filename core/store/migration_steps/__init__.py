"""The frozen schema steps ``migrations`` applies in order, grouped by what they add.

Every step holds its own SQL text and code and never calls live code; once released, a
step's text is never changed (a library upgraded by it must match one made by it)."""
