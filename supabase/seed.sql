-- Demo seed: the "Northwind Demo" org with a user in every role, two teams, four scenarios
-- (one a draft), a track, assignments (some overdue) and past attempts; plus "Globex", a second
-- org for isolation tests, and one user who belongs to both. Every password is 'coachdesk-demo'.
-- Fixed ids so tests and docs can name them; dates are relative to now() so "overdue" stays so.

-- Users as the auth server creates a confirmed email sign-up, so they can sign in on hosted
-- Supabase too: it looks users up by the nil instance_id and aud, reads the token columns as
-- strings (NULL there fails the sign-in) and keeps each sign-in method in auth.identities.
with demo_users (id, email, full_name) as (values
  ('a0000000-0000-4000-8000-000000000001', 'trainee@demo.coachdesk.test', 'Tara Trainee'),
  ('a0000000-0000-4000-8000-000000000002', 'trainee2@demo.coachdesk.test', 'Theo Trainee'),
  ('a0000000-0000-4000-8000-000000000003', 'manager@demo.coachdesk.test', 'Maya Manager'),
  ('a0000000-0000-4000-8000-000000000004', 'admin@demo.coachdesk.test', 'Adam Admin'),
  ('a0000000-0000-4000-8000-000000000005', 'hr@demo.coachdesk.test', 'Hana HR'),
  ('a0000000-0000-4000-8000-000000000011', 'trainee@globex.coachdesk.test', 'Gina Globex'),
  ('a0000000-0000-4000-8000-000000000012', 'manager@globex.coachdesk.test', 'Gus Globex'),
  ('a0000000-0000-4000-8000-000000000013', 'admin@globex.coachdesk.test', 'Greta Globex'),
  ('a0000000-0000-4000-8000-000000000014', 'hr@globex.coachdesk.test', 'Glen Globex'),
  ('a0000000-0000-4000-8000-000000000021', 'consultant@coachdesk.test', 'Casey Consultant')
),
created as (
  insert into auth.users (instance_id, id, aud, role, email, encrypted_password,
                          email_confirmed_at, confirmation_token, recovery_token,
                          email_change_token_new, email_change, raw_app_meta_data,
                          raw_user_meta_data, created_at, updated_at)
  select '00000000-0000-0000-0000-000000000000', u.id::uuid, 'authenticated', 'authenticated',
         u.email, extensions.crypt('coachdesk-demo', extensions.gen_salt('bf', 8)), now(),
         '', '', '', '', '{"provider": "email", "providers": ["email"]}'::jsonb,
         jsonb_build_object('full_name', u.full_name), now(), now()
  from demo_users u
  returning id, email
)
insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,
                             created_at, updated_at)
select c.id::text, c.id,
       jsonb_build_object('sub', c.id::text, 'email', c.email, 'email_verified', true,
                          'phone_verified', false),
       'email', now(), now(), now()
from created c;

insert into public.orgs (id, name, slug, plan, entitlements) values
  ('d0000000-0000-4000-8000-000000000001', 'Northwind Demo', 'northwind-demo', 'business',
   '{"seats": 50, "active_scenarios": 25, "retention_days": 365}'),
  ('d0000000-0000-4000-8000-000000000002', 'Globex', 'globex', 'team',
   '{"seats": 10, "active_scenarios": 5, "retention_days": 90}');

insert into public.org_members (org_id, user_id, role, display_name) values
  ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', 'trainee', 'Tara Trainee'),
  ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000002', 'trainee', 'Theo Trainee'),
  ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000003', 'manager', 'Maya Manager'),
  ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000004', 'admin', 'Adam Admin'),
  ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000005', 'hr', 'Hana HR'),
  ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000021', 'trainee', 'Casey Consultant'),
  ('d0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000011', 'trainee', 'Gina Globex'),
  ('d0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000012', 'manager', 'Gus Globex'),
  ('d0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000013', 'admin', 'Greta Globex'),
  ('d0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000014', 'hr', 'Glen Globex'),
  ('d0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000021', 'manager', 'Casey Consultant');

insert into public.teams (id, org_id, name) values
  ('e0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001', 'Enterprise East'),
  ('e0000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000001', 'SMB West'),
  ('e0000000-0000-4000-8000-000000000011', 'd0000000-0000-4000-8000-000000000002', 'Globex Sales');

insert into public.team_members (org_id, team_id, user_id) values
  ('d0000000-0000-4000-8000-000000000001', 'e0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001'),
  ('d0000000-0000-4000-8000-000000000001', 'e0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000003'),
  ('d0000000-0000-4000-8000-000000000001', 'e0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000002'),
  ('d0000000-0000-4000-8000-000000000001', 'e0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000021'),
  ('d0000000-0000-4000-8000-000000000002', 'e0000000-0000-4000-8000-000000000011', 'a0000000-0000-4000-8000-000000000011');

insert into public.scenarios (id, org_id, title, description, persona, difficulty, ai_prompt,
                              branching, rubric, status, pass_score, created_by) values
('f0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001',
 'Cold call: the skeptical IT director',
 'Get past the gatekeeper instinct and earn a 20-minute discovery meeting.',
 '{"name": "Dana Whitfield", "role": "IT Director", "company": "Acme Logistics", "voice": "en-us"}',
 'beginner',
 'You are Dana, a busy IT director who gets ten vendor calls a week. Be curt but fair.',
 '{"version": 1, "start": "open", "nodes": [
    {"id": "open", "persona_line": "Dana speaking. Who is this?",
     "edges": [{"to": "why", "when": {"keywords": ["calling", "name", "from"]}},
               {"to": "why", "default": true}]},
    {"id": "why", "persona_line": "We already have a vendor for that. Why should I spend time on this?",
     "edges": [{"to": "interest", "when": {"keywords": ["save", "cost", "time", "reduce", "faster"]}},
               {"to": "interest", "when": {"intent": "question"}},
               {"to": "brushoff", "default": true}]},
    {"id": "interest", "persona_line": "Okay, that is relevant. What would a next step look like?",
     "edges": [{"to": "close", "when": {"keywords": ["meeting", "demo", "call", "calendar"]}},
               {"to": "brushoff", "default": true}]},
    {"id": "brushoff", "persona_line": "Send me an email and I will look at it.", "end": true},
    {"id": "close", "persona_line": "Fine, send an invite for Thursday.", "end": true}]}',
 '{"version": 1, "criteria": [
    {"id": "listen", "label": "Listen more than you talk", "weight": 0.3, "type": "kpi",
     "kpi": "talk_ratio", "target": {"min": 0.35, "max": 0.6}, "tolerance": 0.25},
    {"id": "questions", "label": "Ask discovery questions", "weight": 0.3, "type": "kpi",
     "kpi": "questions_asked", "target": {"min": 2}, "tolerance": 2},
    {"id": "value", "label": "State value and a next step", "weight": 0.4, "type": "keywords",
     "keywords": [["save", "reduce", "faster"], ["meeting", "demo", "call"]]}]}',
 'published', 70, 'a0000000-0000-4000-8000-000000000004'),
('f0000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000001',
 'Discovery: the budget-conscious CFO',
 'Uncover the cost of the status quo before talking price.',
 '{"name": "Raj Mehta", "role": "CFO", "company": "Brightline Foods", "voice": "en-gb"}',
 'intermediate',
 'You are Raj, a CFO who cares about payback period and hates vague claims.',
 '{"version": 1, "start": "open", "nodes": [
    {"id": "open", "persona_line": "I have fifteen minutes. What do you want to know?",
     "edges": [{"to": "pain", "when": {"intent": "question"}}, {"to": "vague", "default": true}]},
    {"id": "pain", "persona_line": "Our month-end close takes nine days and overtime is killing us.",
     "edges": [{"to": "price", "when": {"phrases": ["how much", "what does it cost"]}},
               {"to": "quantify", "default": true}]},
    {"id": "quantify", "persona_line": "Roughly two hundred thousand a year in overtime. Can you fix that?",
     "edges": [{"to": "close", "default": true}]},
    {"id": "price", "persona_line": "You are asking about my budget before you understand my problem.", "end": true},
    {"id": "vague", "persona_line": "I am not sure what you are asking me.", "end": true},
    {"id": "close", "persona_line": "Show me the numbers next week.", "end": true}]}',
 '{"version": 1, "criteria": [
    {"id": "questions", "label": "Ask open questions", "weight": 0.4, "type": "kpi",
     "kpi": "questions_asked", "target": {"min": 3, "max": 14}, "tolerance": 3},
    {"id": "pace", "label": "Keep a clear pace", "weight": 0.2, "type": "kpi",
     "kpi": "words_per_minute", "target": {"min": 130, "max": 175}, "tolerance": 40},
    {"id": "fillers", "label": "Few filler words", "weight": 0.2, "type": "kpi",
     "kpi": "filler_word_ratio", "target": {"max": 0.04}, "tolerance": 0.06},
    {"id": "impact", "label": "Quantify the impact", "weight": 0.2, "type": "keywords",
     "keywords": [["cost", "overtime", "payback"], ["days", "hours", "weeks"]]}]}',
 'published', 70, 'a0000000-0000-4000-8000-000000000004'),
('f0000000-0000-4000-8000-000000000003', 'd0000000-0000-4000-8000-000000000001',
 'Objection: happy with the incumbent',
 'Handle "we are happy with what we have" without arguing.',
 '{"name": "Lena Fischer", "role": "Head of Operations", "company": "Nordkap Freight", "voice": "en-us"}',
 'advanced',
 'You are Lena; you like your current vendor and resent being sold to.',
 '{"version": 1, "start": "open", "nodes": [
    {"id": "open", "persona_line": "Honestly, we are happy with our current provider.",
     "edges": [{"to": "probe", "when": {"intent": "question"}},
               {"to": "annoyed", "when": {"intent": "objection"}},
               {"to": "annoyed", "default": true}]},
    {"id": "probe", "persona_line": "Well, their support is slow, but it works.",
     "edges": [{"to": "close", "when": {"keywords": ["support", "response", "slow"]}},
               {"to": "annoyed", "default": true}]},
    {"id": "annoyed", "persona_line": "I do not think this is a fit. Goodbye.", "end": true},
    {"id": "close", "persona_line": "If you can show me faster support, I will listen.", "end": true}]}',
 '{"version": 1, "criteria": [
    {"id": "patience", "label": "Pause before answering", "weight": 0.3, "type": "kpi",
     "kpi": "response_latency_seconds", "target": {"min": 0.6, "max": 3}, "tolerance": 1.5},
    {"id": "monologue", "label": "No long monologues", "weight": 0.3, "type": "kpi",
     "kpi": "longest_monologue_seconds", "target": {"max": 60}, "tolerance": 60},
    {"id": "empathy", "label": "Acknowledge, then probe", "weight": 0.4, "type": "keywords",
     "keywords": [["understand", "makes sense", "fair"], ["support", "service"]]}]}',
 'published', 75, 'a0000000-0000-4000-8000-000000000004'),
('f0000000-0000-4000-8000-000000000004', 'd0000000-0000-4000-8000-000000000001',
 'Renewal: procurement pushes for 20% off',
 'Draft: hold price by trading concessions.',
 '{"name": "Owen Price", "role": "Procurement Lead", "company": "Calder Retail"}',
 'advanced', '',
 '{"version": 1, "start": "open", "nodes": [
    {"id": "open", "persona_line": "We need twenty percent off or we walk.", "edges": [{"to": "end", "default": true}]},
    {"id": "end", "persona_line": "Let me think about it.", "end": true}]}',
 '{"version": 1, "criteria": [
    {"id": "trade", "label": "Trade, do not give", "weight": 1, "type": "keywords",
     "keywords": [["in exchange", "if you", "term"]]}]}',
 'draft', 70, 'a0000000-0000-4000-8000-000000000004'),
('f0000000-0000-4000-8000-000000000011', 'd0000000-0000-4000-8000-000000000002',
 'Globex: inbound demo request',
 'Qualify an inbound lead.',
 '{"name": "Sam Ortiz", "role": "Marketing Manager", "company": "Hooli"}',
 'beginner', '',
 '{"version": 1, "start": "open", "nodes": [
    {"id": "open", "persona_line": "I filled in your form. What happens now?", "edges": [{"to": "end", "default": true}]},
    {"id": "end", "persona_line": "Sounds good.", "end": true}]}',
 '{"version": 1, "criteria": [
    {"id": "questions", "label": "Qualify", "weight": 1, "type": "kpi", "kpi": "questions_asked",
     "target": {"min": 2}, "tolerance": 2}]}',
 'published', 70, 'a0000000-0000-4000-8000-000000000013');

insert into public.tracks (id, org_id, title, description, status, created_by) values
  ('b0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001',
   'New hire onboarding', 'From first cold call to handling the incumbent objection.', 'published',
   'a0000000-0000-4000-8000-000000000004'),
  ('b0000000-0000-4000-8000-000000000011', 'd0000000-0000-4000-8000-000000000002',
   'Globex basics', 'Inbound qualification.', 'published', 'a0000000-0000-4000-8000-000000000013');

insert into public.track_scenarios (org_id, track_id, scenario_id, position) values
  ('d0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000001', 1),
  ('d0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000002', 2),
  ('d0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000003', 3),
  ('d0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000011', 'f0000000-0000-4000-8000-000000000011', 1);

insert into public.assignments (id, org_id, scenario_id, track_id, user_id, team_id, due_at,
                                note, assigned_by) values
  ('c0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001',
   'f0000000-0000-4000-8000-000000000001', null, 'a0000000-0000-4000-8000-000000000001', null,
   now() - interval '2 days', 'Warm-up before the Acme campaign.', 'a0000000-0000-4000-8000-000000000003'),
  ('c0000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000001',
   null, 'b0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', null,
   now() + interval '14 days', 'Finish the onboarding track.', 'a0000000-0000-4000-8000-000000000003'),
  ('c0000000-0000-4000-8000-000000000003', 'd0000000-0000-4000-8000-000000000001',
   'f0000000-0000-4000-8000-000000000002', null, null, 'e0000000-0000-4000-8000-000000000002',
   now() + interval '3 days', 'SMB team: discovery practice.', 'a0000000-0000-4000-8000-000000000003'),
  ('c0000000-0000-4000-8000-000000000004', 'd0000000-0000-4000-8000-000000000001',
   'f0000000-0000-4000-8000-000000000003', null, 'a0000000-0000-4000-8000-000000000002', null,
   now() - interval '1 day', '', 'a0000000-0000-4000-8000-000000000003'),
  ('c0000000-0000-4000-8000-000000000011', 'd0000000-0000-4000-8000-000000000002',
   'f0000000-0000-4000-8000-000000000011', null, 'a0000000-0000-4000-8000-000000000011', null,
   now() + interval '5 days', 'Qualify your first inbound lead.', 'a0000000-0000-4000-8000-000000000012');

-- Past attempts: transcripts of strong, average and weak calls on each scenario, spread over the
-- last five weeks; each follows its scenario's lines, so the persona speaks as herself or himself.
-- They arrive with a transcript, so the database queues them for scoring; the seed scores the
-- queue at the end, so the demo starts with scores (and the reports built from them).
with templates (scenario_id, quality, transcript) as (values
  ('f0000000-0000-4000-8000-000000000001', 'strong', '{"version": 1, "turns": [
    {"speaker": "persona", "start": 0.0, "end": 2.1, "text": "Dana speaking. Who is this?"},
    {"speaker": "rep", "start": 2.9, "end": 7.4, "text": "Hi Dana, this is Alex from Coachdesk. Did I catch you at a bad time?"},
    {"speaker": "persona", "start": 8.0, "end": 12.5, "text": "We already have a vendor for that. Why should I spend time on this?"},
    {"speaker": "rep", "start": 13.6, "end": 24.0, "text": "Fair question. Teams like yours reduce support tickets by a third and save hours every week. How do you handle onboarding today?"},
    {"speaker": "persona", "start": 24.8, "end": 28.9, "text": "Okay, that is relevant. What would a next step look like?"},
    {"speaker": "rep", "start": 30.0, "end": 36.2, "text": "Could we book a short demo meeting on Thursday? Would ten work for you?"},
    {"speaker": "persona", "start": 37.0, "end": 39.0, "text": "Fine, send an invite for Thursday."}]}'::jsonb),
  ('f0000000-0000-4000-8000-000000000001', 'average', '{"version": 1, "turns": [
    {"speaker": "persona", "start": 0.0, "end": 2.1, "text": "Dana speaking. Who is this?"},
    {"speaker": "rep", "start": 2.4, "end": 9.8, "text": "Hi, um, this is Alex from Coachdesk, we do, uh, training software for sales teams and stuff."},
    {"speaker": "persona", "start": 10.2, "end": 14.6, "text": "We already have a vendor for that. Why should I spend time on this?"},
    {"speaker": "rep", "start": 15.0, "end": 33.5, "text": "Well, you know, we are faster and we can save you money, I mean the product is really good and our customers like it a lot and the setup is simple, um, so I think it could help."},
    {"speaker": "persona", "start": 34.0, "end": 38.1, "text": "Okay, that is relevant. What would a next step look like?"},
    {"speaker": "rep", "start": 38.5, "end": 43.0, "text": "Maybe a call next week? What do you think?"},
    {"speaker": "persona", "start": 43.6, "end": 45.6, "text": "Send me an email and I will look at it."}]}'::jsonb),
  ('f0000000-0000-4000-8000-000000000001', 'weak', '{"version": 1, "turns": [
    {"speaker": "persona", "start": 0.0, "end": 2.1, "text": "Dana speaking. Who is this?"},
    {"speaker": "rep", "start": 2.2, "end": 30.4, "text": "Uh, hi, um, so I am calling from Coachdesk and basically we have this platform, you know, that does a lot of things for sales teams, um, like coaching and, uh, analytics and basically everything, and I mean it is really great."},
    {"speaker": "persona", "start": 29.9, "end": 34.0, "text": "We already have a vendor for that. Why should I spend time on this?"},
    {"speaker": "rep", "start": 34.1, "end": 52.0, "text": "Right, but, um, ours is better, you know, basically it is just better and, uh, cheaper I think, so you should really look at it."},
    {"speaker": "persona", "start": 52.5, "end": 54.5, "text": "Send me an email and I will look at it."}]}'::jsonb),
  ('f0000000-0000-4000-8000-000000000002', 'strong', '{"version": 1, "turns": [
    {"speaker": "persona", "start": 0.0, "end": 3.0, "text": "I have fifteen minutes. What do you want to know?"},
    {"speaker": "rep", "start": 3.8, "end": 10.4, "text": "Thanks, Raj. How does your team run the month-end close today, and where does it hurt most?"},
    {"speaker": "persona", "start": 11.2, "end": 15.6, "text": "Our month-end close takes nine days and overtime is killing us."},
    {"speaker": "rep", "start": 16.6, "end": 26.0, "text": "Nine days is a lot. What does that overtime add up to over a year? And how many hours a week go into matching invoices by hand?"},
    {"speaker": "persona", "start": 26.8, "end": 31.6, "text": "Roughly two hundred thousand a year in overtime. Can you fix that?"},
    {"speaker": "rep", "start": 32.6, "end": 42.4, "text": "We can. Finance teams like yours close in four days, so the payback comes well inside a year. Could I show you the numbers next week?"},
    {"speaker": "persona", "start": 43.2, "end": 45.4, "text": "Show me the numbers next week."}]}'::jsonb),
  ('f0000000-0000-4000-8000-000000000002', 'average', '{"version": 1, "turns": [
    {"speaker": "persona", "start": 0.0, "end": 3.0, "text": "I have fifteen minutes. What do you want to know?"},
    {"speaker": "rep", "start": 3.5, "end": 9.9, "text": "Um, so, what, uh, what tools does your finance team use right now?"},
    {"speaker": "persona", "start": 10.4, "end": 14.8, "text": "Our month-end close takes nine days and overtime is killing us."},
    {"speaker": "rep", "start": 15.2, "end": 21.6, "text": "Okay, so, um, how much budget do you have for a new system, basically?"},
    {"speaker": "persona", "start": 22.1, "end": 26.3, "text": "You are asking about my budget before you understand my problem."}]}'::jsonb),
  ('f0000000-0000-4000-8000-000000000002', 'weak', '{"version": 1, "turns": [
    {"speaker": "persona", "start": 0.0, "end": 3.0, "text": "I have fifteen minutes. What do you want to know?"},
    {"speaker": "rep", "start": 3.2, "end": 19.6, "text": "Uh, hi, so basically we sell, um, finance software and it is really good and, you know, everybody likes it and I think you would like it too."},
    {"speaker": "persona", "start": 20.1, "end": 22.3, "text": "I am not sure what you are asking me."}]}'::jsonb),
  ('f0000000-0000-4000-8000-000000000003', 'average', '{"version": 1, "turns": [
    {"speaker": "persona", "start": 0.0, "end": 3.2, "text": "Honestly, we are happy with our current provider."},
    {"speaker": "rep", "start": 3.3, "end": 7.9, "text": "That makes sense, Lena. What do you like most about them?"},
    {"speaker": "persona", "start": 8.4, "end": 11.2, "text": "Well, their support is slow, but it works."},
    {"speaker": "rep", "start": 11.3, "end": 22.0, "text": "Right, well, um, we are, you know, just better and cheaper, basically, so you should switch."},
    {"speaker": "persona", "start": 22.6, "end": 25.2, "text": "I do not think this is a fit. Goodbye."}]}'::jsonb),
  ('f0000000-0000-4000-8000-000000000011', 'strong', '{"version": 1, "turns": [
    {"speaker": "persona", "start": 0.0, "end": 2.8, "text": "I filled in your form. What happens now?"},
    {"speaker": "rep", "start": 3.6, "end": 14.2, "text": "Thanks for reaching out, Sam. Two quick questions so I book the right demo: how big is your marketing team? And when would you like to start?"},
    {"speaker": "persona", "start": 15.0, "end": 16.2, "text": "Sounds good."}]}'::jsonb),
  ('f0000000-0000-4000-8000-000000000011', 'average', '{"version": 1, "turns": [
    {"speaker": "persona", "start": 0.0, "end": 2.8, "text": "I filled in your form. What happens now?"},
    {"speaker": "rep", "start": 3.2, "end": 9.6, "text": "Great, um, so I will send you a demo link. Does Tuesday work?"},
    {"speaker": "persona", "start": 10.2, "end": 11.4, "text": "Sounds good."}]}'::jsonb)
),
plan (n, user_id, org_id, scenario_id, assignment_id, quality, days_ago) as (values
  (1, 'a0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000001', 'weak', 34),
  (2, 'a0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000001', 'average', 27),
  (3, 'a0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000002', 'average', 12),
  (4, 'a0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000001', null, 'strong', 3),
  (5, 'a0000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000003', 'weak', 20),
  (6, 'a0000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000003', 'c0000000-0000-4000-8000-000000000004', 'average', 6),
  (7, 'a0000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000001', null, 'strong', 1),
  (8, 'a0000000-0000-4000-8000-000000000021', 'd0000000-0000-4000-8000-000000000001', 'f0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000003', 'strong', 2),
  (9, 'a0000000-0000-4000-8000-000000000011', 'd0000000-0000-4000-8000-000000000002', 'f0000000-0000-4000-8000-000000000011', 'c0000000-0000-4000-8000-000000000011', 'average', 9),
  (10, 'a0000000-0000-4000-8000-000000000011', 'd0000000-0000-4000-8000-000000000002', 'f0000000-0000-4000-8000-000000000011', 'c0000000-0000-4000-8000-000000000011', 'strong', 2)
)
insert into public.scenario_attempts (id, org_id, user_id, scenario_id, assignment_id, started_at,
                                      ended_at, duration_seconds, transcript, status, device_id)
select md5('coachdesk-seed-attempt-' || p.n)::uuid, p.org_id::uuid, p.user_id::uuid,
       p.scenario_id::uuid, p.assignment_id::uuid,
       now() - make_interval(days => p.days_ago, hours => p.n),
       now() - make_interval(days => p.days_ago, hours => p.n)
             + make_interval(secs => (t.transcript #>> '{turns,-1,end}')::numeric),
       (t.transcript #>> '{turns,-1,end}')::numeric,
       t.transcript, 'uploaded', 'seed'
from plan p
join templates t on t.scenario_id = p.scenario_id and t.quality = p.quality;

select private.score_queued(1000);
