-- private.scenario_rubric(scenario, org) reads any scenario's rubric with the owner's rights.
-- It was executable by signed-in users (through the trigger that scores an upload, which ran
-- as the uploader), so a direct call could read another org's rubric. The trigger now runs as
-- its owner, and only the owner (and score_attempt, also SECURITY DEFINER) calls the lookup.
alter function private.score_on_transcript() security definer;
revoke execute on function private.scenario_rubric(uuid, uuid) from public, authenticated;
