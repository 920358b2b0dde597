"""Tables and plots of chipfleet results; display only, no decisions."""
