# Machine profiles: what a machine does with a grant. One module per kind
# (profile.kind), each with a class Profile; see base.py for the interface.


def make(board, profile):
    """The Profile of profile["kind"]; only that kind's module is imported,
    so a board never holds the code of the machines it is not."""
    module = __import__("firmware.profiles." + profile["kind"], None, None, ("Profile",))
    return module.Profile(board, profile)
