-- AlterEnum
ALTER TYPE "TeamMemberInviteStatus" ADD VALUE 'DECLINED';
