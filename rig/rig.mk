# rig targets (owned by the rig)
