#!/bin/bash
# Required modules: loaded first, automatically, and a provider in use
# refuses to unload.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$TMOD/dep_base.so" "$TMOD/dep_user.so"
plan 9

drop "$TMOD/dep_base.so" dep_base
drop "$TMOD/dep_user.so" dep_user
qemu_start load=dep_user

wait_event '.event=="load" and .module=="dep_user"'
is "$(events '.event=="load"' | jq -r .module | paste -sd' ')" "dep_base dep_user" \
	"load=dep_user loads dep_base first"

rm "$MODDIR/dep_base.so"
wait_event '.event=="reject" and .module=="dep_base"'
jq -e '.error|test("unload refused: in use by dep_user")' \
	<<<"$(events '.event=="reject"' | tail -1)" >/dev/null
ok $? "deleting a provider in use is refused, naming its user"
is "$(count_events '.event=="unload"')" "0" "nothing was unloaded"

rm "$MODDIR/dep_user.so"
wait_event '.event=="unload" and .module=="dep_user"'
ok $? "the user unloads"

drop "$TMOD/dep_base.so" dep_base
wait_event '.event=="reload" and .module=="dep_base"'
ok $? "the provider, still live, is reloaded when its file comes back"
rm "$MODDIR/dep_base.so"
wait_event '.event=="unload" and .module=="dep_base"'
ok $? "unused now, the provider unloads"

# A user whose provider is not in dir is refused, with the reason.
drop "$TMOD/dep_user.so" dep_user
wait_event '.event=="reject" and .module=="dep_user"'
jq -e '.error|test("required module .dep_base.")' \
	<<<"$(events '.event=="reject" and .module=="dep_user"' | tail -1)" >/dev/null
ok $? "a user whose provider is missing is rejected, naming it"

# Both dropped at once: the provider is loaded first.
rm "$MODDIR/dep_user.so"
cp "$TMOD/dep_user.so" "$TMOD/dep_base.so" "$T/"
mv "$T/dep_user.so" "$T/dep_base.so" "$MODDIR/"
wait_event '.event=="load" and .module=="dep_user"' 2
is "$(events '.event=="load"' | tail -2 | jq -r .module | paste -sd' ')" \
	"dep_base dep_user" "dropped together, they load provider first"
qemu_alive
ok $? "guest still running"
