INSERT INTO "User" (email, url) VALUES ('ann@x.io', 'acme-ann'), ('bob@x.io', 'bob');
INSERT INTO "Team" (name, url, "ownerUserId", "customerId") VALUES ('Acme', 'acme', 2, 'cus_acme');
INSERT INTO "TeamMember" ("teamId", "userId", role) VALUES (1, 2, 'ADMIN');
INSERT INTO "Subscription" (status, "planId", "priceId", "teamId", "updatedAt") VALUES ('ACTIVE', 'plan_acme', 'price_1', 1, now());
