//! Static checks of policies (and the inventory): findings with stable codes.
