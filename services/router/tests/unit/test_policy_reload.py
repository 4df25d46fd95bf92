import os

from switchboard_router.routing.holder import PolicyHolder

GOOD = 'version: "{v}"\ndefault_queue: general\n'


def test_a_changed_policy_file_takes_effect_and_a_bad_one_is_refused(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD.format(v="1"))
    holder = PolicyHolder.load(path)
    assert holder.maybe_reload() is False
    path.write_text(GOOD.format(v="2") + "# longer\n")
    assert holder.maybe_reload() is True
    assert holder.current().version == "2"
    path.write_text("version: 3\ndefault_queue: Not A Queue\n")
    os.utime(path, ns=(1, 1))
    assert holder.maybe_reload() is False
    assert holder.current().version == "2"
