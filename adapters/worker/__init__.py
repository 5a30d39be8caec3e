"""The long-running worker (`serve`): its loops, health, the HTTP API beside them, and the projections follower."""
